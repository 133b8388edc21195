"""The course's experiments: the letter-prediction smoke test (Keras and the model files) and the stock experiment."""
