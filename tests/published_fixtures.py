"""Small configs in the published GPT-SoVITS layouts, shared by the tests of the published loaders."""

# The published s2 structure with narrow widths: the converter's code path, in a small fraction of the size.
SMALL_S2_CONFIG = {
    "data": {"sampling_rate": 32000, "filter_length": 2048, "hop_length": 64, "win_length": 2048},
    "model": {
        "inter_channels": 8, "hidden_channels": 16, "filter_channels": 32, "n_heads": 2, "n_layers": 2,
        "kernel_size": 3, "p_dropout": 0.1, "resblock": "1", "resblock_kernel_sizes": [3],
        "resblock_dilation_sizes": [[1, 3, 5]], "upsample_rates": [4, 4, 4], "upsample_initial_channel": 32,
        "upsample_kernel_sizes": [8, 8, 4], "gin_channels": 512, "semantic_frame_rate": "25hz",
        "freeze_quantizer": True, "version": "v2",
    },
    "train": {"segment_size": 512},
}  # fmt: skip
