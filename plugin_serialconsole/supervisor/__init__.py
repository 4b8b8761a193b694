"""Console process supervision: starting (through the zygote or a fresh interpreter),
talking to, stopping and reaping the console processes."""
