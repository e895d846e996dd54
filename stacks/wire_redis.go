package stacks

import (
	"path"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/redis"
)

// deployRedis runs the cache and its exporter.
func deployRedis(d *deployment) (*redis.Redis, error) {
	h := d.engine(Redis)
	img, err := d.image(h, Redis)
	if err != nil {
		return nil, err
	}
	exporterImg, err := d.image(h, ImageRedisExporter)
	if err != nil {
		return nil, err
	}
	res := d.cfg.ResourcesFor(Redis)
	return redis.NewRedis(d.ctx, Redis, redis.Args{
		Engine:           h,
		Zones:            d.zones,
		Image:            img,
		ExporterImage:    exporterImg,
		Resources:        res,
		ExporterResource: d.cfg.ResourcesFor(Exporter),
		Password:         d.cfg.Secrets.RedisPassword,
		ServiceDir:       d.serviceDir(Redis),
		// The SPEC's "maxmemory 4gb" equals its 4 GB limit; see MaxMemoryFor
		// for the quarter kept as headroom (3072 MB of 4096 MB).
		MaxMemoryMB: redis.MaxMemoryFor(res.MemoryMB),
	})
}

// redisOutputs are Redis's stack outputs.
func redisOutputs(r *redis.Redis) pulumi.Map {
	return pulumi.Map{"host": r.HostName, "containerName": r.ContainerName, "address": r.Address}
}

func dirsRedis(dataPath string) []host.Dir {
	return redis.Dirs(path.Join(dataPath, Redis))
}
