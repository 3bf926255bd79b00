"""Long work: the job queue, the worker that runs it, and what a kind of job is.

The table of every kind, which names each area's handlers, is moodlab.job_kinds.
"""
