"""specproof's engine: the reference's algorithms in torch, on real models, CPU and GPU.

torch is imported where it is used, never at package import: the audit statistics and the DSI
simulator need none.
"""
