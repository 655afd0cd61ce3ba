"""Data: the built-in event generator, file formats, loaders of users' data, preprocessing, the data set."""
