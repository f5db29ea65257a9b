"""Seed 001's create_model, copied from its report (only the imports added).

cnn-search reads its keyword parameters (activation, optimizer, dropout_rate,
kernel) as hyperparameters, builds it once per grid point to count its
parameters before training, and keeps its own compile (loss, optimizer by
name, metrics). It compiles 'Adadelta' by name, which Keras 3 runs at 0.001,
not the 1.0 the report's Keras used: the run says so once, with the fix.
"""

from functools import partial

import keras


def create_model(activation = 'relu',
                 optimizer = "nadam",
                 dropout_rate = 0.2,
                 kernel = 3,
                 ):
    DefaultConv2D = partial(keras.layers.Conv2D,
                            kernel_size=kernel, activation=activation, padding="SAME")
    model_grid = keras.models.Sequential([
        DefaultConv2D(filters=28, kernel_size=7, input_shape=[28, 28, 1]),
        keras.layers.MaxPooling2D(pool_size=3),
        DefaultConv2D(filters=32),
        DefaultConv2D(filters=32),
        keras.layers.MaxPooling2D(pool_size=2),
        DefaultConv2D(filters=36),
        DefaultConv2D(filters=36),
        keras.layers.MaxPooling2D(pool_size=2),
        keras.layers.Flatten(),
        keras.layers.Dense(units=36, activation= activation),
        keras.layers.Dropout(dropout_rate),
        keras.layers.Dense(units=32, activation= activation),
        keras.layers.Dropout(dropout_rate),
        keras.layers.Dense(units=10, activation= 'softmax'),
    ])
    model_grid.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model_grid
