"""`assist serve`: REST, a WebSocket of events and a web dashboard over the queues and logs."""
