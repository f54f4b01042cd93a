"""Size caps the engines share with the host that sizes a claimed network before building it."""

# Weight layers (Linear/Conv): ResNet-110 has 110. Bound propagation costs grow with depth
# squared (CROWN back-substitutes through every earlier layer), so depth is capped like size.
MAX_WEIGHT_LAYERS = 128
