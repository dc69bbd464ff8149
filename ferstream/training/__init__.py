"""The training job: FER-2013 in, an emotion model, its metrics and plots out."""
