// The Kubernetes manifests in deploy/kubernetes/: they parse, agree with each other, with the image
// and with the app (probe paths are routes it serves, ports are the ones it listens on).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadConfig, projectRoot } from '../../src/config.js';
import { buildTestApp } from '../helpers/app.js';
import {
  argsOf,
  dockerStages,
  drainSeconds,
  parseDockerfile,
  readProjectFile,
  readYaml,
  runtimeVariables,
  settingNames,
} from '../helpers/deploy.js';
import { MEMORY_512_ENV } from '../helpers/deploy.js';

interface Probe {
  httpGet: { path: string; port: string | number };
  periodSeconds?: number;
  timeoutSeconds?: number;
}
interface Container {
  name: string;
  image: string;
  ports: { name: string; containerPort: number }[];
  env?: { name: string; value: string }[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  startupProbe?: Probe;
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle: { preStop: { exec: { command: string[] } } };
}
interface Deployment {
  kind: 'Deployment';
  metadata: { name: string };
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: { terminationGracePeriodSeconds: number; securityContext: { runAsNonRoot: boolean; runAsUser: number }; containers: Container[] };
    };
  };
}
interface Service {
  spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number }[] };
}
interface Autoscaler {
  apiVersion: string;
  spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; metrics: { type: string; resource: { name: string } }[] };
}
interface DisruptionBudget {
  spec: { selector: { matchLabels: Record<string, string> } };
}

const folder = path.join('deploy', 'kubernetes');
const manifests = readdirSync(path.join(projectRoot, folder)).filter((file) => file.endsWith('.yaml'));
const only = <T>(file: string): T => {
  const documents = readYaml(folder, file);
  if (documents.length !== 1) throw new Error(`${file}: expected one document, found ${documents.length}`);
  return documents[0] as T;
};
const deployment = only<Deployment>('deployment.yaml');
const container = deployment.spec.template.spec.containers[0]!;
const podLabels = deployment.spec.template.metadata.labels;
const port = loadConfig({}).PORT;
const image = dockerStages(parseDockerfile(readProjectFile('Dockerfile'))).at(-1)!;

t.test('every manifest parses and names its kind; kustomization lists them all', async (t) => {
  t.ok(manifests.length >= 5);
  for (const file of manifests) {
    for (const document of readYaml(folder, file)) {
      const { apiVersion, kind } = document as { apiVersion?: string; kind?: string };
      t.ok(apiVersion && kind, `${file} has apiVersion and kind`);
    }
  }
  const { resources } = only<{ resources: string[] }>('kustomization.yaml');
  t.same([...resources].sort(), manifests.filter((file) => file !== 'kustomization.yaml').sort());
});

t.test('one container that listens where the app and the image do', async (t) => {
  t.equal(deployment.spec.template.spec.containers.length, 1);
  t.same(container.ports, [{ name: 'http', containerPort: port }], 'the named port is the service default');
  const expose = argsOf(image, 'EXPOSE');
  t.same(expose, [String(container.ports[0]!.containerPort)], 'and the Dockerfile EXPOSE');
  t.notOk(deployment.spec.replicas, 'the autoscaler owns the replica count');
  t.same(deployment.spec.selector.matchLabels, podLabels);
});

t.test('probes: readiness on /ready, liveness on /health, each a route the app serves', async (t) => {
  t.equal(container.readinessProbe.httpGet.path, '/ready');
  t.equal(container.livenessProbe.httpGet.path, '/health');
  const probes = [container.startupProbe, container.readinessProbe, container.livenessProbe].filter((probe) => probe !== undefined);
  const app = await buildTestApp(t);
  for (const probe of probes) {
    t.equal(probe.httpGet.port, 'http', `${probe.httpGet.path} probes the named port`);
    const response = await app.inject({ method: 'GET', url: probe.httpGet.path });
    t.equal(response.statusCode, 200, `GET ${probe.httpGet.path} answers 200 once warm`);
  }
});

t.test('shutdown: the grace period covers the preStop pause and the drain', async (t) => {
  const [command, seconds] = container.lifecycle.preStop.exec.command;
  t.equal(command, 'sleep', 'the slim image has sleep');
  const pause = Number(seconds);
  t.ok(pause > 0 && pause <= 10, `a short preStop pause (${pause} s)`);
  const grace = deployment.spec.template.spec.terminationGracePeriodSeconds;
  t.ok(grace > pause + drainSeconds, `grace period ${grace} s > ${pause} s pause + ${drainSeconds} s drain`);
});

t.test('resources: a 1 GiB memory limit and a CPU request', async (t) => {
  t.equal(container.resources.limits.memory, '1Gi');
  t.equal(container.resources.requests.memory, '1Gi', 'requested as much as the limit, so the scheduler reserves it');
  t.ok(container.resources.requests.cpu, 'a CPU request (the autoscaler measures against it)');
});

t.test('environment: only known settings and runtime variables, with values the service accepts', async (t) => {
  const env = Object.fromEntries((container.env ?? []).map(({ name, value }) => [name, value]));
  for (const name of Object.keys(env)) t.ok(settingNames.includes(name) || runtimeVariables.includes(name), `${name} is known`);
  t.doesNotThrow(() => loadConfig(env));
  if (env.PORT !== undefined) t.equal(Number(env.PORT), container.ports[0]!.containerPort);
  if (env.INFERENCE_THREADS !== undefined) {
    t.ok(Number(env.INFERENCE_THREADS) <= Number(container.resources.limits.cpu), 'no more inference threads than the CPU limit');
  }
});

t.test('the pod runs as the image user, not root', async (t) => {
  const { securityContext } = deployment.spec.template.spec;
  t.equal(securityContext.runAsNonRoot, true);
  const user = argsOf(image, 'USER')[0]!;
  t.equal(String(securityContext.runAsUser), user.split(':')[0]);
});

t.test('service, autoscaler and disruption budget point at the deployment', async (t) => {
  const service = only<Service>('service.yaml');
  t.same(service.spec.selector, podLabels);
  t.same(service.spec.ports.map(({ name, port, targetPort }) => ({ name, port, targetPort })), [{ name: 'http', port, targetPort: 'http' }]);

  const hpa = only<Autoscaler>('hpa.yaml');
  t.equal(hpa.apiVersion, 'autoscaling/v2');
  t.same(hpa.spec.scaleTargetRef.kind, 'Deployment');
  t.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
  t.ok(hpa.spec.minReplicas >= 2, 'at least two replicas, so one can be drained');
  t.same(hpa.spec.metrics.map((metric) => `${metric.type}/${metric.resource.name}`), ['Resource/cpu']);

  const pdb = only<DisruptionBudget>('pdb.yaml');
  t.same(pdb.spec.selector.matchLabels, podLabels);
});

t.test('the shared-results overlay puts /remove-bg results on one ReadWriteMany claim, in the volume the base mounts', async (t) => {
  const overlay = path.join('deploy', 'kubernetes-shared-results');
  const [kustomization] = readYaml(overlay, 'kustomization.yaml') as [{ resources: string[]; patches: { path: string }[] }];
  t.ok(kustomization.resources.includes('../kubernetes'), 'built on the base');
  const [claim] = readYaml(overlay, 'pvc.yaml') as [{ kind: string; metadata: { name: string }; spec: { accessModes: string[] } }];
  t.equal(claim.kind, 'PersistentVolumeClaim');
  t.same(claim.spec.accessModes, ['ReadWriteMany']);
  const [patch] = readYaml(overlay, kustomization.patches[0]!.path) as [
    { metadata: { name: string }; spec: { template: { spec: { volumes: { name: string; persistentVolumeClaim: { claimName: string } }[] } } } },
  ];
  t.equal(patch.metadata.name, deployment.metadata.name, 'patches the base deployment');
  const volume = patch.spec.template.spec.volumes[0]!;
  t.equal(volume.persistentVolumeClaim.claimName, claim.metadata.name);
  const mounted = (container as unknown as { volumeMounts: { name: string; mountPath: string }[] }).volumeMounts.find((mount) => mount.name === volume.name);
  t.ok(mounted, `the base mounts a volume named ${volume.name}`);
  t.match(mounted?.mountPath, /processed_images$/, 'at STORAGE_DIR');
});

t.test('the 512 MiB overlay: the base container with half the memory and the settings the memory test uses', async (t) => {
  const overlay = path.join('deploy', 'kubernetes-512mb');
  const [kustomization] = readYaml(overlay, 'kustomization.yaml') as [{ resources: string[]; patches: { path: string }[] }];
  t.ok(kustomization.resources.includes('../kubernetes'), 'built on the base');
  const [patch] = readYaml(overlay, kustomization.patches[0]!.path) as [
    { metadata: { name: string }; spec: { template: { spec: { containers: Pick<Container, 'name' | 'env' | 'resources'>[] } } } },
  ];
  t.equal(patch.metadata.name, deployment.metadata.name, 'patches the base deployment');
  const patched = patch.spec.template.spec.containers[0]!;
  t.equal(patched.name, container.name, 'the base container, by name');
  t.equal(patched.resources.limits.memory, '512Mi');
  t.equal(patched.resources.requests.memory, '512Mi');
  const env = Object.fromEntries((patched.env ?? []).map(({ name, value }) => [name, value]));
  t.same(env, MEMORY_512_ENV, 'the settings test/deploy/memory.test.ts measures under 512 MiB');
  t.doesNotThrow(() => loadConfig(env));
});
