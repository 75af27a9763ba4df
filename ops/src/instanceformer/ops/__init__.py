"""Multi-scale deformable attention for the InstanceFormer toolkit."""
