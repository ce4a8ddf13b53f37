"""The logo detector's training and serving code: SageMaker's container contract around a pluggable model backend.

Backend-free modules (paths, hyperparameters, manifest, preprocessing, pretrained, backends, train, serving) hold the
contract; ``backends`` declares what a backend does and finds one by name. ``backend_gluoncv`` (GluonCV's SSD on
MXNet) is the only backend, and the only module that imports MXNet or GluonCV.
"""
