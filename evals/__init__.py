"""Citation-accuracy evaluation: gold questions → answers → metrics, reports and a CI gate."""
