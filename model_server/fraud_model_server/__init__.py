"""KServe V2 model server for the local target."""
