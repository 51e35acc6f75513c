/** The image-proxy daemon: runs dumps on the source node and streams their images to the image-cache. */
package dev.ferry.proxy;
