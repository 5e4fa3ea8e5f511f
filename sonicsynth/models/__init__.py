"""Model families: each a set of plain nn.Modules plus one LightningModule."""
