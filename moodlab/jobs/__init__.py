"""Long work: the job queue, the worker that runs it, and the table of job kinds."""
