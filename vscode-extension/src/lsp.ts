/** The real language client. Only this module loads vscode-languageclient at runtime. */
import { LanguageClient, type ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { ownProgressFeature } from './capabilities';
import type { ClientFactory } from './server';

export const createLanguageClient: ClientFactory = ({ id, name, launch, clientOptions }) => {
  const serverOptions: ServerOptions = {
    command: launch.command,
    args: launch.args,
    transport: TransportKind.stdio,
    options: { env: launch.env, cwd: launch.cwd },
  };
  const client = new LanguageClient(id, name, serverOptions, clientOptions);
  client.registerFeature(ownProgressFeature);
  return client;
};
