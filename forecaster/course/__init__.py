"""The course's experiments: the letter-prediction smoke test and the stock experiment."""
