"""DSI: distributed speculative inference (Timor et al., ICLR 2025, arXiv 2405.14105).

- `simulator`: the offline simulator of non-SI, SI and DSI under the authors' cost model
  (numpy only; exact expectations in `specproof.reference.dsi`);
- `queueing`: DSI with a finite number of target servers;
- `heatmap`, `report`: the speedup grid (locally or on Ray) and its JSON, plots and PNGs;
- `runtime`: the orchestrator (drafter, verification servers and a target-only chain running
  concurrently); `servers`: where workers run (threads or Ray actors); `config`: a run's knobs,
  stats and errors; `baselines`: SI and non-SI on the same workers;
- `workers`: worker interfaces, sleeping workers (online simulation) and the reference's toy
  LMs; `online`: the online simulation against the offline model;
Nothing here imports torch. The Hugging Face workers (torch) and `gpu_section`, the DSI part of
`bench/gpu.py`, live in `specproof.engine.dsi.hf`.
"""

from .heatmap import heatmap
from .runtime import DSIConfig, make_servers, run_dsi, run_nonsi, run_si
from .simulator import simulate

__all__ = ["DSIConfig", "heatmap", "make_servers", "run_dsi", "run_nonsi", "run_si", "simulate"]
