"""The demo: the whole pipeline on a sample mailbox with local mail servers and the embedded models."""
