"""gRPC: the brainjar.v1.ToolService client and server."""
