/**
 * A TCP proxy to the hub that, when armed, cuts the next connection that sends COMMIT (a packet
 * that is exactly COMMIT, or a multi-statement query ending in COMMIT or in the `mysql_primary`
 * one-row insert's `SET autocommit = CASE … 'ON' END`, which commits): after handing it to the
 * server (the server commits, its answer never reaches the client) or before (it never arrives).
 */
import net from 'node:net';

export class CommitCutter {
  arm: 'off' | 'after-commit' | 'before-commit' = 'off';
  cuts = 0;
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<CommitCutter> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const cutter = new CommitCutter(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => cutter.relay(client, target));
    return cutter;
  }

  private relay(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.createConnection(target.port, target.host);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => {
      if (!upstream.destroyed && !cutting) upstream.destroy();
    });
    upstream.pipe(client);
    let cutting = false;
    let buf = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      if (cutting) return;
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const len = buf.readUIntLE(0, 3);
        if (buf.length < 4 + len) break;
        const packet = buf.subarray(0, 4 + len);
        buf = buf.subarray(4 + len);
        const isCommit =
          packet[4] === 0x03 && /(^|;\s*)(COMMIT|SET autocommit = CASE [\s\S]*'ON' END)$/.test(packet.subarray(5).toString());
        if (isCommit && this.arm !== 'off') {
          const mode = this.arm;
          this.arm = 'off';
          this.cuts++;
          cutting = true;
          upstream.unpipe(client);
          if (mode === 'after-commit') {
            // The server gets the COMMIT and answers; the answer never reaches the client, whose
            // connection drops only then (dropped at once, the client's check of the outcome could
            // reach the server before the COMMIT did, and rightly find it not committed).
            upstream.write(packet);
            upstream.once('data', () => {
              upstream.destroy();
              client.destroy();
            });
          } else {
            upstream.destroy();
            client.destroy();
          }
          return;
        }
        upstream.write(packet);
      }
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
