"""Developer tools (screenshots, the app server shared by the browser tests and benchmarks)."""
