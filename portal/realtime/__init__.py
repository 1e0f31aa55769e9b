"""Live updates over Socket.IO: namespaces (auth on connect), publish-on-commit, the event catalogue."""
