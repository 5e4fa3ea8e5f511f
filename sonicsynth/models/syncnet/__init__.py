"""SyncNet: audio-visual synchronisation embeddings (the network behind LSE-D / LSE-C)."""

from sonicsynth.models.syncnet.lightning_module import SyncNetLitModule
from sonicsynth.models.syncnet.network import SyncNet, load_published_syncnet

__all__ = ["SyncNet", "SyncNetLitModule", "load_published_syncnet"]
