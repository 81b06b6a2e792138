"""Image processing building blocks (numpy / Pillow / OpenCV), shared by every image tool."""
