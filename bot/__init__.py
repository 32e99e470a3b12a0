"""ml-mentor: a self-hostable mentor bot for learning Machine Learning."""
