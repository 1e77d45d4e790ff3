"""NetCanvas: draw a convolutional network, see its shapes live, train and export it."""

__version__ = "0.1.0"
