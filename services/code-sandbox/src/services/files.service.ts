import type { Readable } from 'node:stream';

import { Inject } from '@nestjs/common';

import type { Principal } from '@aibox/identity';

import type { ReadQuery, RemoveQuery, WriteBody, WriteQuery } from '../dtos/files.dto.js';
import { SANDBOX_ACCESS, type SandboxAccess } from './sandbox-access.js';
import {
  WorkspaceFiles,
  type FileSlice,
  type Unpacked,
  type WorkspaceListing,
  type WrittenFile,
} from './workspace-files.js';

/** A directory as a tar stream, with the name to offer it under. */
export interface WorkspaceArchive {
  /** `<directory>.tar`, `workspace.tar` for the root. */
  readonly name: string;
  readonly stream: Readable;
}

/** The files API of a sandbox: the caller's access to the sandbox first, then its workspace. */
export class FilesService {
  constructor(
    @Inject(SANDBOX_ACCESS) private readonly access: SandboxAccess,
    @Inject(WorkspaceFiles) private readonly files: WorkspaceFiles,
  ) {}

  async list(principal: Principal, id: string, path: string): Promise<WorkspaceListing> {
    return this.files.list(await this.workspace(principal, id), path);
  }

  async read(principal: Principal, id: string, query: ReadQuery): Promise<FileSlice> {
    return this.files.read(await this.workspace(principal, id), query.path, query);
  }

  async write(principal: Principal, id: string, query: WriteQuery, body: WriteBody): Promise<WrittenFile> {
    const workspaceDir = await this.workspace(principal, id);
    const content =
      body.content_base64 === undefined
        ? Buffer.from(body.content ?? '', 'utf8')
        : Buffer.from(body.content_base64, 'base64');
    return this.files.write(workspaceDir, query.path, content, {
      mkdirs: query.mkdirs === true,
      ...(body.mode === undefined ? {} : { mode: body.mode }),
    });
  }

  async remove(principal: Principal, id: string, query: RemoveQuery): Promise<void> {
    await this.files.remove(await this.workspace(principal, id), query.path, {
      recursive: query.recursive === true,
    });
  }

  async archive(principal: Principal, id: string, path: string): Promise<WorkspaceArchive> {
    const workspaceDir = await this.workspace(principal, id);
    const name = `${this.files.resolve(path).at(-1) ?? 'workspace'}.tar`;
    return { name, stream: await this.files.archive(workspaceDir, path) };
  }

  async extract(principal: Principal, id: string, path: string, tar: Readable): Promise<Unpacked> {
    try {
      return await this.files.extract(await this.workspace(principal, id), path, tar);
    } catch (error: unknown) {
      // The rest of a refused upload is read and dropped, so that the connection can carry the answer.
      tar.resume();
      throw error;
    }
  }

  private async workspace(principal: Principal, id: string): Promise<string> {
    return (await this.access.usable(principal, id)).workspaceDir;
  }
}
