"""Step 6 of the pipeline: tell live listeners what was committed."""
