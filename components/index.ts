export { Cache, type CacheArgs } from "./Cache";
export { ContainerService, type ContainerServiceArgs } from "./ContainerService";
export { Database, type DatabaseArgs } from "./Database";
export { ServiceStack, type ServiceStackArgs, type SecretFileOutput } from "./ServiceStack";
export { GeneratedSecret, generateSecretValue } from "./GeneratedSecret";
export { BackupSchedule, type BackupScheduleArgs } from "./BackupSchedule";
export { Certificate, type CertificateArgs } from "./Certificate";
export { Exporter, type ExporterArgs } from "./Exporter";
