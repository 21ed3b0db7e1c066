"""The segment files on the SSD cache and the HDD archive: naming, writing, reading back,
moving, freeing, repairing."""
