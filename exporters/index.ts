/** Every exporter the command line knows, in the order `all` starts them. */
import type { ExporterDefinition } from './kit/exporter';
import { definition as dns } from './dns';
import { definition as gelf } from './gelf';
import { definition as mongodb } from './mongodb';
import { definition as probe } from './probe';
import { definition as redis } from './redis';
import { definition as reports } from './reports';
import { definition as system } from './system';
import { definition as wildduck } from './wildduck';

export const exporters: ExporterDefinition[] = [wildduck, gelf, mongodb, redis, system, probe, reports, dns];
