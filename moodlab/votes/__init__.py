"""Annotators' votes on images: queues, the quorum rules, agreement statistics."""
