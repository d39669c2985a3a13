"""The post-processing network: 3-D patch embedding + masking, InternImage (DCNv3) encoder, UPerNet heads."""
