import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, ZodPipe } from '@aibox/platform';

import {
  directoryQuery,
  readQuery,
  removeQuery,
  writeBody,
  writeQuery,
  type DirectoryQuery,
  type ReadQuery,
  type RemoveQuery,
  type WriteBody,
  type WriteQuery,
} from '../dtos/files.dto.js';
import { FilesService, type WorkspaceArchive } from '../services/files.service.js';
import type { FileSlice, Unpacked, WorkspaceListing, WrittenFile } from '../services/workspace-files.js';
import { uuidParam } from './params.js';
import { TAR_CONTENT_TYPE, tarBody } from './tar-body.js';

async function sendSlice(reply: FastifyReply, slice: FileSlice): Promise<void> {
  await reply
    .code(200)
    .headers({
      'content-type': 'application/octet-stream',
      'x-file-size': String(slice.size),
      'x-file-offset': String(slice.offset),
    })
    .send(slice.content);
}

/** `attachment` with an ASCII fallback name and the exact one in RFC 5987 form. */
export function attachment(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const exact = encodeURIComponent(name).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${exact}`;
}

async function sendArchive(reply: FastifyReply, archive: WorkspaceArchive): Promise<void> {
  await reply
    .code(200)
    .headers({ 'content-type': TAR_CONTENT_TYPE, 'content-disposition': attachment(archive.name) })
    .send(archive.stream);
}

/**
 * A sandbox's workspace files (`/v1/sandbox/sandboxes/{id}/files…` through the gateway). Paths are the
 * sandbox's (`/workspace/x`, `/x` or `x`); symlinks are listed and archived but never followed. Writes take
 * JSON (`content` or `content_base64`); archive uploads take `application/x-tar`, which `registerTarParser`
 * lets through unread. Capability `sandbox:exec`: what a turn may do with a sandbox's programs it may do with
 * their files.
 */
@RequireCapability('sandbox:exec')
@Controller('sandboxes/:id/files')
export class FilesController {
  constructor(@Inject(FilesService) private readonly files: FilesService) {}

  @Get()
  list(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Query(new ZodPipe(directoryQuery)) query: DirectoryQuery,
  ): Promise<WorkspaceListing> {
    return this.files.list(principal, id, query.path);
  }

  @Get('content')
  read(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Query(new ZodPipe(readQuery)) query: ReadQuery,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.files.read(principal, id, query).then((slice) => sendSlice(reply, slice));
  }

  @Put('content')
  write(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Query(new ZodPipe(writeQuery)) query: WriteQuery,
    @Body(new ZodPipe(writeBody)) body: WriteBody,
  ): Promise<WrittenFile> {
    return this.files.write(principal, id, query, body);
  }

  @Delete()
  @HttpCode(204)
  remove(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Query(new ZodPipe(removeQuery)) query: RemoveQuery,
  ): Promise<void> {
    return this.files.remove(principal, id, query);
  }

  @Get('archive')
  archive(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Query(new ZodPipe(directoryQuery)) query: DirectoryQuery,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.files.archive(principal, id, query.path).then((archive) => sendArchive(reply, archive));
  }

  @Put('archive')
  extract(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Query(new ZodPipe(directoryQuery)) query: DirectoryQuery,
    @Req() request: FastifyRequest,
  ): Promise<Unpacked> {
    return this.files.extract(principal, id, query.path, tarBody(request));
  }
}
