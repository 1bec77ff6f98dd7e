"""Room for the scheduler's web pages: templates and static files, served by `app`."""
