"""newsletter: the trending machine-learning papers in each subscriber's topics, every morning."""
