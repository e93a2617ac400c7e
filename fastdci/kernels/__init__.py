"""Hot loops: Numba kernels on the CPU (cpu.py, boosting.py), CuPy/torch on CUDA (cuda.py)."""
