// Aurora 0.22's scheduler API, the subset our scheduler serves, written from its interface facts.
//
// Wire compatibility rests on three things only: field ids, field types, and method names with their
// argument ids. Names of structs do not travel on the wire but are kept as Aurora's so that tools and
// readers find what they know. Never renumber or retype a field; retire an id instead of reusing it.
// Fields Aurora removed before 0.22 (TaskConfig 8/9/10/21/26/3, ResourceAggregate 1/2/3, TaskQuery 8,
// Response 2/4, ServerInfo 2) are left out; an old client that still sends them is skipped like any
// unknown field. Fields added after 0.22 by forks (Resource 6 ipAddr) are left out as well.
//
// The same structs are decoded by the executor (AssignedTask in Mesos TaskInfo.data, Thrift binary)
// and may be reused by storage (ScheduledTask, JobUpdateDetails, HostAttributes, ...).
//
// Python code is generated from this file by `make gen` into thermos_executor/aurora_api/gen (never edit it).
// It lives in the executor's package, the lowest layer, because the executor decodes AssignedTask with it
// and the scheduler, above it, imports it from there (see scheduler/api/codegen.py).
namespace py thermos_executor.aurora_api.gen

// ---------------------------------------------------------------- response envelope

/** How an API call ended. A Response carries a result only when OK. */
enum ResponseCode {
  INVALID_REQUEST    = 0,
  OK                 = 1,
  ERROR              = 2,
  WARNING            = 3,
  AUTH_FAILED        = 4,
  /** The operation collided with a job update in progress. */
  JOB_UPDATING_ERROR = 5,
  /** The scheduler cannot answer now (e.g. storage not ready); the client should retry. */
  ERROR_TRANSIENT    = 6
}

/** Name of the executor Aurora launches tasks with. */
const string AURORA_EXECUTOR_NAME = 'AuroraExecutor'

/** Kept only for the user field old clients still send. */
struct Identity {
  2: string user
}

// ---------------------------------------------------------------- hosts and constraints

/** One attribute an agent advertises, with all its values. */
struct Attribute {
  1: string name
  2: set<string> values
}

enum MaintenanceMode {
  NONE      = 1,
  SCHEDULED = 2,
  DRAINING  = 3,
  DRAINED   = 4
}

/** Everything the scheduler knows about an agent host. */
struct HostAttributes {
  1: string host
  2: set<Attribute> attributes
  3: optional MaintenanceMode mode
  4: optional string slaveId
}

/** The host must (or, negated, must not) have one of these values for the named attribute. */
struct ValueConstraint {
  1: bool negated
  2: set<string> values
}

/** At most `limit` active tasks of the job per distinct value of the named attribute. */
struct LimitConstraint {
  1: i32 limit
}

union TaskConstraint {
  1: ValueConstraint value
  2: LimitConstraint limit
}

/** A placement rule on one agent attribute (`name`). */
struct Constraint {
  1: string name
  2: TaskConstraint constraint
}

struct Package {
  1: string role
  2: string name
  3: i32 version
}

/** Free-form key/value pairs shown in the UI. */
struct Metadata {
  1: string key
  2: string value
}

// ---------------------------------------------------------------- jobs and tasks

/** role/environment/name: a job's identity, unique in a cluster. */
struct JobKey {
  1: string role
  2: string environment
  3: string name
}

/** One instance of a job. */
struct InstanceKey {
  1: JobKey jobKey
  2: i32 instanceId
}

/** A URI the Mesos fetcher downloads into the sandbox (mirrors CommandInfo.URI). */
struct MesosFetcherURI {
  1: string value
  2: optional bool extract
  3: optional bool cache
  4: optional string outputFile
}

/** Which executor runs the task, and its opaque configuration (Thermos: the task JSON). */
struct ExecutorConfig {
  1: string name
  2: string data
}

enum Mode {
  RW = 1,
  RO = 2
}

/** A host path mounted into the task's container. */
struct Volume {
  1: string containerPath
  2: string hostPath
  3: Mode mode
}

struct DockerImage {
  1: string name
  2: string tag
}

struct AppcImage {
  1: string name
  2: string imageId
}

union Image {
  1: DockerImage docker
  2: AppcImage appc
}

/** The Mesos (unified) containerizer; the default container. */
struct MesosContainer {
  1: optional Image image
  2: optional list<Volume> volumes
}

/** One `--name=value` given to the docker CLI. */
struct DockerParameter {
  1: string name
  2: string value
}

struct DockerContainer {
  1: string image
  2: optional list<DockerParameter> parameters
}

union Container {
  1: MesosContainer mesos
  2: DockerContainer docker
}

/** One resource a task needs; a task's resources are a set of these. */
union Resource {
  1: double numCpus
  2: i64 ramMb
  3: i64 diskMb
  4: string namedPort
  5: i64 numGpus
}

/** What to do with a task whose agent is partitioned away. */
struct PartitionPolicy {
  1: bool reschedule
  2: optional i64 delaySecs
}

/** SLA: this percentage of instances RUNNING for at least durationSecs. */
struct PercentageSlaPolicy {
  1: double percentage
  2: i64 durationSecs
}

/** SLA: this many instances RUNNING for at least durationSecs. */
struct CountSlaPolicy {
  1: i64 count
  2: i64 durationSecs
}

/** SLA decided by an external service, asked at coordinatorUrl. */
struct CoordinatorSlaPolicy {
  1: string coordinatorUrl
  2: string statusKey
}

union SlaPolicy {
  1: PercentageSlaPolicy percentageSlaPolicy
  2: CountSlaPolicy countSlaPolicy
  3: CoordinatorSlaPolicy coordinatorSlaPolicy
}

/** How to run one instance of a job; shared by all instances of a job (or of an update). */
struct TaskConfig {
  28: JobKey job
  17: Identity owner
   7: bool isService
  11: i32 priority
  13: i32 maxTaskFailures
  /** Deprecated by tiers, still sent by clients. */
  18: optional bool production
  30: optional string tier
  32: set<Resource> resources
  20: set<Constraint> constraints
  33: optional set<MesosFetcherURI> mesosFetcherUris
  /** UI links: anchor text -> URL template. */
  22: optional map<string, string> taskLinks
  23: optional string contactEmail
  25: optional ExecutorConfig executorConfig
  27: optional set<Metadata> metadata
  34: optional PartitionPolicy partitionPolicy
  35: optional SlaPolicy slaPolicy
  /** Defaults to the Mesos containerizer, as Aurora's does. */
  29: Container container = { "mesos": {} }
}

/** A sum of resources: quotas and consumption. */
struct ResourceAggregate {
  4: set<Resource> resources
}

/** What a cron run does when the previous run is still active. */
enum CronCollisionPolicy {
  KILL_EXISTING = 0,
  CANCEL_NEW    = 1,
  /** Refused by createJob; old jobs treat it as CANCEL_NEW. */
  RUN_OVERLAP   = 2
}

/** A job: instanceCount instances of one TaskConfig, optionally on a cron schedule. */
struct JobConfiguration {
  9: JobKey key
  7: Identity owner
  4: optional string cronSchedule
  5: CronCollisionPolicy cronCollisionPolicy
  6: TaskConfig taskConfig
  8: i32 instanceCount
}

struct JobStats {
  1: i32 activeTaskCount
  2: i32 finishedTaskCount
  3: i32 failedTaskCount
  4: i32 pendingTaskCount
}

struct JobSummary {
  1: JobConfiguration job
  2: JobStats stats
  /** Epoch ms of the next cron run, for cron jobs. */
  3: optional i64 nextCronRunMs
}

/** Closed range [first, last] of instance ids. */
struct Range {
  1: i32 first
  2: i32 last
}

/** The instances running one TaskConfig. */
struct ConfigGroup {
  1: TaskConfig config
  3: set<Range> instances
}

struct ConfigSummary {
  1: JobKey key
  2: set<ConfigGroup> groups
}

struct PopulateJobResult {
  2: TaskConfig taskConfig
}

struct GetQuotaResult {
  1: ResourceAggregate quota
  2: optional ResourceAggregate prodSharedConsumption
  3: optional ResourceAggregate nonProdSharedConsumption
  4: optional ResourceAggregate prodDedicatedConsumption
  5: optional ResourceAggregate nonProdDedicatedConsumption
}

/** A task's state. The numbers are Aurora's and are what travels on the wire. */
enum ScheduleStatus {
  INIT        = 11,
  THROTTLED   = 16,
  PENDING     = 0,
  ASSIGNED    = 9,
  STARTING    = 1,
  RUNNING     = 2,
  FINISHED    = 3,
  PREEMPTING  = 13,
  RESTARTING  = 12,
  DRAINING    = 17,
  FAILED      = 4,
  KILLED      = 5,
  KILLING     = 6,
  LOST        = 7,
  PARTITIONED = 18
}

const set<ScheduleStatus> ACTIVE_STATES = [ScheduleStatus.ASSIGNED, ScheduleStatus.DRAINING,
                                           ScheduleStatus.KILLING, ScheduleStatus.PENDING,
                                           ScheduleStatus.PREEMPTING, ScheduleStatus.RESTARTING,
                                           ScheduleStatus.RUNNING, ScheduleStatus.STARTING,
                                           ScheduleStatus.PARTITIONED, ScheduleStatus.THROTTLED]

/** Active and bound to an agent. */
const set<ScheduleStatus> SLAVE_ASSIGNED_STATES = [ScheduleStatus.ASSIGNED, ScheduleStatus.DRAINING,
                                                   ScheduleStatus.KILLING, ScheduleStatus.PREEMPTING,
                                                   ScheduleStatus.RESTARTING, ScheduleStatus.RUNNING,
                                                   ScheduleStatus.PARTITIONED, ScheduleStatus.STARTING]

/** Active with a live sandbox. */
const set<ScheduleStatus> LIVE_STATES = [ScheduleStatus.KILLING, ScheduleStatus.PREEMPTING,
                                         ScheduleStatus.RESTARTING, ScheduleStatus.DRAINING,
                                         ScheduleStatus.PARTITIONED, ScheduleStatus.RUNNING]

const set<ScheduleStatus> TERMINAL_STATES = [ScheduleStatus.FAILED, ScheduleStatus.FINISHED,
                                             ScheduleStatus.KILLED, ScheduleStatus.LOST]

/** What a role, environment or job name must match. */
const string GOOD_IDENTIFIER_PATTERN = "^[\\w\\-\\.]+$"
const string GOOD_IDENTIFIER_PATTERN_JVM = GOOD_IDENTIFIER_PATTERN
const string GOOD_IDENTIFIER_PATTERN_PYTHON = GOOD_IDENTIFIER_PATTERN

/** One state transition in a task's history. */
struct TaskEvent {
  /** Epoch ms. */
  1: i64 timestamp
  2: ScheduleStatus status
  3: optional string message
  /** Host name of the scheduler that recorded the event. */
  4: optional string scheduler
}

/** A task bound to an agent: what the executor receives, Thrift-binary, in TaskInfo.data. */
struct AssignedTask {
  /** The Mesos task id, unique forever. */
  1: string taskId
  /** Unset while PENDING. */
  2: string slaveId
  /** Unset while PENDING. */
  3: string slaveHost
  4: TaskConfig task
  /** Port name -> port number reserved on the agent. */
  5: map<string, i32> assignedPorts
  /** In [0, instanceCount). */
  6: i32 instanceId
}

/** A task as the scheduler stores and reports it. */
struct ScheduledTask {
  1: AssignedTask assignedTask
  2: ScheduleStatus status
  /** Failures over all generations of this instance. */
  3: i32 failureCount
  6: i32 timesPartitioned
  4: list<TaskEvent> taskEvents
  /** Task id of the generation this one was rescheduled from. */
  5: string ancestorId
}

struct ScheduleStatusResult {
  1: list<ScheduledTask> tasks
}

struct GetJobsResult {
  1: set<JobConfiguration> configs
}

/** A task filter; every field set must match (AND). */
struct TaskQuery {
  14: optional string role
   9: optional string environment
   2: optional string jobName
   4: optional set<string> taskIds
   5: optional set<ScheduleStatus> statuses
   7: optional set<i32> instanceIds
  10: optional set<string> slaveHosts
  11: optional set<JobKey> jobKeys
  12: optional i32 offset
  13: optional i32 limit
}

struct HostStatus {
  1: string host
  2: MaintenanceMode mode
}

struct RoleSummary {
  1: string role
  2: i32 jobCount
  3: i32 cronJobCount
}

struct Hosts {
  1: set<string> hostNames
}

/** Why a task is still PENDING, in words. */
struct PendingReason {
  1: string taskId
  2: string reason
}

// ---------------------------------------------------------------- job updates

enum JobUpdateStatus {
  ROLLING_FORWARD             = 0,
  ROLLING_BACK                = 1,
  ROLL_FORWARD_PAUSED         = 2,
  ROLL_BACK_PAUSED            = 3,
  ROLLED_FORWARD              = 4,
  ROLLED_BACK                 = 5,
  ABORTED                     = 6,
  ERROR                       = 7,
  /** Failure thresholds met with rollback disabled, or while rolling back. */
  FAILED                      = 8,
  /** Blocked for want of a pulseJobUpdate call. */
  ROLL_FORWARD_AWAITING_PULSE = 9,
  ROLL_BACK_AWAITING_PULSE    = 10
}

const set<JobUpdateStatus> ACTIVE_JOB_UPDATE_STATES = [JobUpdateStatus.ROLLING_FORWARD,
                                                       JobUpdateStatus.ROLLING_BACK,
                                                       JobUpdateStatus.ROLL_FORWARD_PAUSED,
                                                       JobUpdateStatus.ROLL_BACK_PAUSED,
                                                       JobUpdateStatus.ROLL_FORWARD_AWAITING_PULSE,
                                                       JobUpdateStatus.ROLL_BACK_AWAITING_PULSE]

/** Aurora's spelling, typo included: the constant's name is part of the interface. */
const set<JobUpdateStatus> AWAITNG_PULSE_JOB_UPDATE_STATES = [JobUpdateStatus.ROLL_FORWARD_AWAITING_PULSE,
                                                              JobUpdateStatus.ROLL_BACK_AWAITING_PULSE]

/** What an update did to one instance. */
enum JobUpdateAction {
  INSTANCE_UPDATED         = 1,
  INSTANCE_ROLLED_BACK     = 2,
  INSTANCE_UPDATING        = 3,
  INSTANCE_ROLLING_BACK    = 4,
  INSTANCE_UPDATE_FAILED   = 5,
  INSTANCE_ROLLBACK_FAILED = 6
}

/** Answer to pulseJobUpdate. */
enum JobUpdatePulseStatus {
  OK       = 1,
  FINISHED = 2
}

struct JobUpdateKey {
  1: JobKey job
  2: string id
}

/** At most groupSize instances changing at once. */
struct QueueJobUpdateStrategy {
  1: i32 groupSize
}

/** Fixed-size batches, each finished before the next starts. */
struct BatchJobUpdateStrategy {
  1: i32 groupSize
  2: bool autopauseAfterBatch
}

/** Batches whose sizes are given one by one. */
struct VariableBatchJobUpdateStrategy {
  1: list<i32> groupSizes
  2: bool autopauseAfterBatch
}

union JobUpdateStrategy {
  1: QueueJobUpdateStrategy queueStrategy
  2: BatchJobUpdateStrategy batchStrategy
  3: VariableBatchJobUpdateStrategy varBatchStrategy
}

struct JobUpdateSettings {
  /** Deprecated in favour of updateStrategy. */
  1: i32 updateGroupSize
  2: i32 maxPerInstanceFailures
  3: i32 maxFailedInstances
  5: i32 minWaitInInstanceRunningMs
  6: bool rollbackOnFailure
  /** All instances when unset. */
  7: set<Range> updateOnlyTheseInstances
  /** Deprecated in favour of updateStrategy. */
  8: bool waitForBatchCompletion
  9: optional i32 blockIfNoPulsesAfterMs
  10: optional bool slaAware
  11: optional JobUpdateStrategy updateStrategy
}

struct JobUpdateEvent {
  1: JobUpdateStatus status
  2: i64 timestampMs
  3: optional string user
  4: optional string message
}

struct JobInstanceUpdateEvent {
  1: i32 instanceId
  2: i64 timestampMs
  3: JobUpdateAction action
  4: optional string message
}

/** The instances that run one TaskConfig. */
struct InstanceTaskConfig {
  1: TaskConfig task
  2: set<Range> instances
}

struct JobUpdateState {
  1: JobUpdateStatus status
  2: i64 createdTimestampMs
  3: i64 lastModifiedTimestampMs
}

struct JobUpdateSummary {
  5: JobUpdateKey key
  3: string user
  4: JobUpdateState state
  6: optional set<Metadata> metadata
}

struct JobUpdateInstructions {
  1: set<InstanceTaskConfig> initialState
  2: InstanceTaskConfig desiredState
  3: JobUpdateSettings settings
}

struct JobUpdate {
  1: JobUpdateSummary summary
  2: JobUpdateInstructions instructions
}

struct JobUpdateDetails {
  1: JobUpdate update
  2: list<JobUpdateEvent> updateEvents
  3: list<JobInstanceUpdateEvent> instanceEvents
}

/** What startJobUpdate is asked to reach. */
struct JobUpdateRequest {
  1: TaskConfig taskConfig
  2: i32 instanceCount
  3: JobUpdateSettings settings
  4: optional set<Metadata> metadata
}

/** A job update filter; every field set must match (AND). */
struct JobUpdateQuery {
  2: string role
  8: JobUpdateKey key
  3: JobKey jobKey
  4: string user
  5: set<JobUpdateStatus> updateStatuses
  6: i32 offset
  7: i32 limit
}

/** A drain that honours SLAs, as stored until it finishes or times out. */
struct HostMaintenanceRequest {
  1: string host
  2: SlaPolicy defaultSlaPolicy
  3: i64 timeoutSecs
  4: i64 createdTimestampMs
}

// ---------------------------------------------------------------- results

struct ListBackupsResult {
  1: set<string> backups
}

struct StartMaintenanceResult {
  1: set<HostStatus> statuses
}

struct DrainHostsResult {
  1: set<HostStatus> statuses
}

struct QueryRecoveryResult {
  1: set<ScheduledTask> tasks
}

struct MaintenanceStatusResult {
  1: set<HostStatus> statuses
}

struct EndMaintenanceResult {
  1: set<HostStatus> statuses
}

struct RoleSummaryResult {
  1: set<RoleSummary> summaries
}

struct JobSummaryResult {
  1: set<JobSummary> summaries
}

struct ConfigSummaryResult {
  1: ConfigSummary summary
}

struct GetPendingReasonResult {
  1: set<PendingReason> reasons
}

struct StartJobUpdateResult {
  1: JobUpdateKey key
  /** Set when the job already had an update in progress. */
  2: optional JobUpdateSummary updateSummary
}

struct GetJobUpdateSummariesResult {
  1: list<JobUpdateSummary> updateSummaries
}

struct GetJobUpdateDetailsResult {
  /** Deprecated single result (for the deprecated key argument). */
  1: JobUpdateDetails details
  2: list<JobUpdateDetails> detailsList
}

struct PulseJobUpdateResult {
  1: JobUpdatePulseStatus status
}

struct GetJobUpdateDiffResult {
  1: set<ConfigGroup> add
  2: set<ConfigGroup> remove
  3: set<ConfigGroup> update
  4: set<ConfigGroup> unchanged
}

struct TierConfig {
  1: string name
  2: map<string, string> settings
}

struct GetTierConfigResult {
  1: string defaultTierName
  2: set<TierConfig> tiers
}

/** Who answered: sent in every Response. */
struct ServerInfo {
  1: string clusterName
  /** URL prefix of the cluster's task statistics. */
  3: string statsUrlPrefix
}

/** Exactly one payload per call; ids 2, 12-16 and 19 were retired by Aurora. */
union Result {
  1: PopulateJobResult populateJobResult
  3: ScheduleStatusResult scheduleStatusResult
  4: GetJobsResult getJobsResult
  5: GetQuotaResult getQuotaResult
  6: ListBackupsResult listBackupsResult
  7: StartMaintenanceResult startMaintenanceResult
  8: DrainHostsResult drainHostsResult
  9: QueryRecoveryResult queryRecoveryResult
  10: MaintenanceStatusResult maintenanceStatusResult
  11: EndMaintenanceResult endMaintenanceResult
  17: RoleSummaryResult roleSummaryResult
  18: JobSummaryResult jobSummaryResult
  20: ConfigSummaryResult configSummaryResult
  21: GetPendingReasonResult getPendingReasonResult
  22: StartJobUpdateResult startJobUpdateResult
  23: GetJobUpdateSummariesResult getJobUpdateSummariesResult
  24: GetJobUpdateDetailsResult getJobUpdateDetailsResult
  25: PulseJobUpdateResult pulseJobUpdateResult
  26: GetJobUpdateDiffResult getJobUpdateDiffResult
  27: GetTierConfigResult getTierConfigResult
}

struct ResponseDetail {
  1: string message
}

/** Every method answers with this envelope. */
struct Response {
  1: ResponseCode responseCode
  5: ServerInfo serverInfo
  3: optional Result result
  /** Human-readable messages: errors, warnings, deprecations. */
  6: list<ResponseDetail> details
}

// ---------------------------------------------------------------- services

/** Queries; anyone may call them. */
service ReadOnlyScheduler {
  Response getRoleSummary()
  /** All jobs when role is unset. */
  Response getJobSummary(1: string role)
  Response getTasksStatus(1: TaskQuery query)
  /** As getTasksStatus, with executor data left out. */
  Response getTasksWithoutConfigs(1: TaskQuery query)
  Response getPendingReason(1: TaskQuery query)
  Response getConfigSummary(1: JobKey job)
  /** All jobs when ownerRole is unset. */
  Response getJobs(1: string ownerRole)
  Response getQuota(1: string ownerRole)
  /** The job's TaskConfig as the scheduler would store it; nothing is created. */
  Response populateJobConfig(1: JobConfiguration description)
  Response getJobUpdateSummaries(1: JobUpdateQuery jobUpdateQuery)
  /** `key` is deprecated; clients send `query`. */
  Response getJobUpdateDetails(1: JobUpdateKey key, 2: JobUpdateQuery query)
  Response getJobUpdateDiff(1: JobUpdateRequest request)
  Response getTierConfigs()
}

/** Changes to jobs; a role's own users (or admins) may call them. Argument ids have gaps: keep them. */
service AuroraSchedulerManager extends ReadOnlyScheduler {
  Response createJob(1: JobConfiguration description)
  Response scheduleCronJob(1: JobConfiguration description)
  Response descheduleCronJob(4: JobKey job)
  Response startCronJob(4: JobKey job)
  Response restartShards(5: JobKey job, 3: set<i32> shardIds)
  Response killTasks(4: JobKey job, 5: set<i32> instances, 6: string message)
  /** count more instances with the TaskConfig of the instance `key`. */
  Response addInstances(3: InstanceKey key, 4: i32 count)
  Response replaceCronTemplate(1: JobConfiguration config)
  Response startJobUpdate(1: JobUpdateRequest request, 3: string message)
  Response pauseJobUpdate(1: JobUpdateKey key, 3: string message)
  Response resumeJobUpdate(1: JobUpdateKey key, 3: string message)
  Response abortJobUpdate(1: JobUpdateKey key, 3: string message)
  /** Note: message is argument 2 here, 3 in its siblings. */
  Response rollbackJobUpdate(1: JobUpdateKey key, 2: string message)
  Response pulseJobUpdate(1: JobUpdateKey key)
}

struct ExplicitReconciliationSettings {
  1: optional i32 batchSize
}

/** Operator calls. One endpoint serves all three services: AuroraAdmin includes the others. */
service AuroraAdmin extends AuroraSchedulerManager {
  Response setQuota(1: string ownerRole, 2: ResourceAggregate quota)
  Response forceTaskState(1: string taskId, 2: ScheduleStatus status)
  Response performBackup()
  Response listBackups()
  Response stageRecovery(1: string backupId)
  Response queryRecovery(1: TaskQuery query)
  Response deleteRecoveryTasks(1: TaskQuery query)
  Response commitRecovery()
  Response unloadRecovery()
  Response startMaintenance(1: Hosts hosts)
  Response drainHosts(1: Hosts hosts)
  Response maintenanceStatus(1: Hosts hosts)
  Response endMaintenance(1: Hosts hosts)
  Response slaDrainHosts(1: Hosts hosts, 2: SlaPolicy defaultSlaPolicy, 3: i64 timeoutSecs)
  Response snapshot()
  Response triggerExplicitTaskReconciliation(1: ExplicitReconciliationSettings settings)
  Response triggerImplicitTaskReconciliation()
  /** Only terminal tasks; all terminal states when the query names none. */
  Response pruneTasks(1: TaskQuery query)
}

/** A request with this header is served by a non-leading scheduler instead of redirected. */
const string BYPASS_LEADER_REDIRECT_HEADER_NAME = 'Bypass-Leader-Redirect'

/** Where a task's image filesystem is mounted in its sandbox. */
const string TASK_FILESYSTEM_MOUNT_POINT = 'taskfs'
