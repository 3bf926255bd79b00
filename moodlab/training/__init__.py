"""Training the paper's CNNs: architectures, precision, input pipeline, CV jobs, registry.

TensorFlow is imported only inside this package, and only when a function here
runs: pages and commands that do not train stay quick to start.
"""
