"""The bottom layer: errors, the ``Precision`` and ``Size`` types, typed results, accuracy budgets,
the atomic writer, image I/O, lazy package attributes, optional-extra messages and timing helpers.

Modules here import nothing else of ``mgdn_edge`` (checked by ``tests/test_import_layers.py``), so
every other package may import them.
"""
