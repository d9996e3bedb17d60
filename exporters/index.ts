/** Every exporter the command line knows, in the order `all` starts them. */
import type { ExporterDefinition } from './kit/exporter';

export const exporters: ExporterDefinition[] = [];
