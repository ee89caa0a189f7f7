"""RegQA: answers over export-control law with verified citations."""
