"""Face geometry shared by training and runtime (alignment to a canonical crop).

Kept free of heavy imports: submodules are imported explicitly where needed.
"""
