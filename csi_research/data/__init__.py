"""From a survey file to a prepared sample: codebook, file reading, validation, weights, simulation."""
