/** ferry's wire protocol: frame layout constants, frame and error-code enums, codec exceptions, exit codes. */
package dev.ferry.protocol;
