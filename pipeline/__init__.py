"""Pipeline wiring: the recipe that chains the stages, inline or as rq jobs."""
