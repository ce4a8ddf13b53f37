"""The logo detector's training and serving code: SageMaker's container contract around a GluonCV SSD.

Backend-free modules (paths, hyperparameters, manifest, preprocessing, pretrained, serving) hold the contract;
``backend_gluoncv`` is the only one that imports MXNet or GluonCV.
"""
