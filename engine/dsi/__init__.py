"""DSI on real models: Hugging Face workers for the torch-free runtime in `specproof.dsi`.

- `hf`: Hugging Face drafter and target workers and `gpu_section`, the DSI part of
  `bench/gpu.py`;
- `runtime`: the runtime's names under their former path (`specproof.dsi.runtime`).
"""
