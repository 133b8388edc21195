"""The models, pure numpy and Keras: specs, windows, scalers, networks, training, forecasts, model files."""
