# Dev environment: one network and one cluster from the modules below.
terraform {
  required_version = ">= 1.6"
  backend "s3" {
    bucket = "platform-terraform-state"
    key    = "dev/platform.tfstate"
    region = "ap-northeast-1"
  }
}

module "network" {
  source      = "./modules/network"
  environment = "dev"
  cidr_block  = "10.20.0.0/16"
}

module "cluster" {
  source      = "./modules/cluster"
  environment = "dev"
  subnet_ids  = module.network.private_subnet_ids
  node_count  = 3
}
